"""The files genlab reads as data, one module per format: `.npz`/`.npy` arrays (arrays.py, read with
npyfile.py's bounded reader), MNIST IDX files (idx.py), CIFAR folders (cifar.py), folders of image
files (folder.py, each file opened within imagefile.py's bounds), and packs, the memory-mapped
shards genlab writes itself (pack.py reads, pack_writer.py writes). `.wav` sound is data/sound/wav.py."""
