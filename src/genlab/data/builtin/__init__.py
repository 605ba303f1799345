"""The sets genlab knows by name and makes on the user's machine, nothing downloaded: `digits`,
`mnist5k` and `patches:NAME` (images.py), `toy:NAME` (toy.py), `emoji` (emoji.py), `tones`
(tones.py), `speech` (speech.py). data/specs.py's table names each with its loader."""
