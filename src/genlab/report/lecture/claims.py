"""The lecture notes' claims, in the notes' order: one table, from which the page lists every claim,
run or not. Each claim: its place in the notes, the `--only` key of its section, a title, the
notes' own words (quoted from the notes, in Chinese) and a one-line English gloss."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    number: int
    key: str
    title: str
    quote: str
    gloss: str


CLAIMS: tuple[Claim, ...] = (
    Claim(
        1,
        "rnn-prefix",
        "PixelRNN reads a prefix of any length",
        "利用RNN来处理上面2中的variable length的input",
        "An RNN takes the growing, variable-length input: one network reads any number of earlier pixels and "
        "predicts the next.",
    ),
    Claim(
        2,
        "colours",
        "PixelRNN colours",
        "如果单纯用一个三维向量来表示每一个像素的颜色，最后生成的图片会比较灰（RGB三个数值差不多）。更好的做法是，用一个1-of-N "
        "encoding来表示这些颜色（需要先做Clustering，把几个RGB像素相似的颜色cluster在一起）。",
        "Predicting each pixel's colour as a 3-number vector makes the images greyish (R, G and B alike); a "
        "1-of-N code over clustered colours fixes it.",
    ),
    Claim(
        3,
        "uses",
        "PixelRNN uses",
        "训练这种model的时候不需要任何label，完全是一个unsupervised任务。……在应用模型的时候，可以给一张遮住的图片进行测试，"
        "也可以在开头加一些random的pixels。",
        "Trained without labels, the model completes an occluded image, and can start from a few random pixels.",
    ),
    Claim(
        4,
        "speech",
        "WaveNet: the same idea for sound",
        "这个方法也可以被用在语音合成上面（WaveNet）",
        "The same sample-by-sample method also synthesises sound (WaveNet).",
    ),
    Claim(
        5,
        "code-space",
        "Autoencoder vs VAE code space",
        "整个网络输入的不连续造成了bottleneck code的latent space是不连续(continuous)的，所以生成模型中很难知道两个code点之间的会生成什么东西"
        "……加上了noise相当于是input了一片区域而非某些离散的点",
        "An autoencoder's codes are isolated points, so what lies between (or around) them decodes to "
        "nobody-knows-what; the VAE's noise trains whole regions of the code space.",
    ),
    Claim(
        6,
        "vae-noise",
        "Why the constraint",
        "如果直接去train的话，machine会让variance趋于0，这样就和原来的autoencoder没差，所以需要在loss function中加上一些"
        "constraint，来强迫variance不可以太小。",
        "Trained without the constraint, the network drives the noise's variance to 0 and the VAE becomes an "
        "autoencoder; the constraint keeps the variance up.",
    ),
    Claim(
        7,
        "mixtures",
        "Many Gaussians make one complex distribution",
        "只要Gaussion的数量足够多，就可以组合成很复杂的distribution。……这种做法就实现了类似无穷多个Gaussion叠加的效果。",
        "Enough Gaussians sum to any complex distribution; the VAE is in effect a mixture of infinitely many.",
    ),
    Claim(
        8,
        "distributed",
        "Clustering is not enough: distributed representation",
        "在分类这件事情上，单做clustering是不够的，使用distributed representation可以取得更好的结果",
        "Describing data by which cluster it falls in is not enough; a distributed code (many attributes at once) "
        "does better.",
    ),
    Claim(
        9,
        "bound",
        "The lower bound",
        "如果固定P(x|z)，那么此时通过调整q这个NN中的参数来maximizing lower bound的话，L_b的值增长了而整体的likelihood不变，"
        "那么lower bound就会不断地接近likelihood。",
        "With P(x|z) fixed, training q raises the lower bound L_b while the likelihood stays the same, so the "
        "bound closes in on the likelihood.",
    ),
    Claim(
        10,
        "pixel-distance",
        "Pixel distance is a poor measure of similarity",
        "VAE产生image的动机是要和data base里面的越接近越好，而且在描述相似度的时候会存在一定的不准确性。",
        "The VAE aims to be as close as possible to the data, and the closeness it measures (pixel by pixel) "
        "describes similarity imprecisely.",
    ),
    Claim(
        11,
        "imitate",
        "VAE imitates, GAN generates",
        "VAE只是在模仿原来的image，而并不是在真正产生images。……Generator没有看过data base里面的real images。"
        "所以最后Generator可以产生出一些images是data base里面从来没有过的。",
        "The VAE only imitates the images (blurry averages); the GAN's generator never sees a real image and "
        "makes new ones that are not in the data.",
    ),
    Claim(
        12,
        "game",
        "The game",
        "fix住Discriminator的参数，optimize Generator中的参数使得最后Discriminator的output为1（real value）。……"
        "重复2和3的这两个过程。",
        'Fix D and move G until D says "real"; fix G and train D; repeat.',
    ),
)
BY_KEY = {c.key: c for c in CLAIMS}
