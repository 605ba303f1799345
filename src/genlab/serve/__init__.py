"""`genlab serve`: a local web page to play the GAN game, complete images with a PixelRNN run,
walk a VAE's (or GAN's) latent space and browse runs. FastAPI on uvicorn; the page is plain
HTML, CSS and JavaScript shipped in `static/`, and nothing is fetched from the internet.
"""
