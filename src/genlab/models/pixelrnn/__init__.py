"""The PixelRNN family (van den Oord et al. 2016, "Pixel Recurrent Neural Networks"; gated PixelCNN,
van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

- `model.py`: the model (Row LSTM, Diagonal BiLSTM) and its colours as 1-of-N classes;
- `pixelcnn.py`: the PixelCNN and gated PixelCNN networks it can use instead.
Sampling and completion are the shared loop of `genlab.models.autoregressive`. Docs: docs/pixelrnn.md.
"""

from genlab.models.pixelrnn.model import ARCHS, PixelRNN, PixelRNNConfig

__all__ = ["ARCHS", "PixelRNN", "PixelRNNConfig"]
