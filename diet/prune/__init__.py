"""Selection: keep top/bottom/random fractions by score, class-balanced or not; subset files."""
