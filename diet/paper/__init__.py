"""The paper's experiments: presets, the run context, figures, claims, findings, scale, the main job."""
