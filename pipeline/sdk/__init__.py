"""The official Custom Vision SDK as every command uses it:

- clients.py     the training and prediction clients, with keys or (keyless) Entra ID bearer tokens
- retry.py       every call through `Retrying`: 429, 408, 5xx and lost connections retried with backoff
- errors.py      what a failed call raises, the Custom Vision error codes steps act on, one line per failure
- images.py      an image as a file or an http(s) URL, sent with the matching operation; predictions ranked
- iterations.py  iterations in time order
"""
