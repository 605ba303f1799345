"""A fixture the model tests share: tiny models run fastest on one thread, and on a busy machine
two threads are far slower (the thread policy's own reasoning, genlab.core.threads)."""

import pytest
import torch

from genlab.core import threads


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    threads.apply(1)
    yield
    torch.set_num_threads(before)
