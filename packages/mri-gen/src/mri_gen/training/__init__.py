"""GAN training machinery shared by the mri-gen models: EMA, schedules, checkpoints, DDP."""
