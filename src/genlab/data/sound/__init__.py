"""Sound: `.wav` files in and out, resampling and one-second clips (wav.py), spectrograms and
log-mel spectrograms (spectrogram.py)."""
