"""A fixture the model tests share: tiny models run fastest on one thread, and on a busy machine
two threads are far slower."""
import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
