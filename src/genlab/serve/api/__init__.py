"""The JSON API of `genlab serve`, one router per view: runs (runs.py), the latent space
(latent.py), completion streams (completion.py) and GAN games (gan.py); common.py holds what they
share. serve/app.py puts them together."""
