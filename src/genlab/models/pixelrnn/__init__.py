"""The PixelRNN family (van den Oord et al. 2016, "Pixel Recurrent Neural Networks"; gated PixelCNN,
van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

- `model.py`: the model (Row LSTM, Diagonal BiLSTM) and its colours as 1-of-N classes;
- `pixelcnn.py`: the PixelCNN and gated PixelCNN networks it can use instead;
- `layers.py`: their masked convolutions, LSTM cells, shifts and skews;
- `autoregressive.py`: what every one of those networks shares: data in and out, the exact
  likelihood, and the one loop behind sampling and completion.
Docs: docs/pixelrnn.md.
"""

from genlab.models.pixelrnn.model import ARCHS, PixelRNN, PixelRNNConfig

__all__ = ["ARCHS", "PixelRNN", "PixelRNNConfig"]
