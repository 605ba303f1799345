"""What several families share, in one place; no family of its own, and it imports none.

- `nn.py`: the per-class vector of class-conditional networks, the gated unit, weight averages;
- `autoencoder.py`: the encoder/decoder networks, decoders and pictures of the VAE and the plain
  autoencoder (models/vae/, models/ae/).
"""
