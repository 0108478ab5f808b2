"""HF-GAN as improved in the BraSyn 2025 thesis: networks, losses, training and 3D inference."""
