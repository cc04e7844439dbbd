"""Shared fixtures of the python_tests suite (helpers of the ead::sample tests live in
sampling_helpers.py, importable from every test module because pytest puts this folder on
sys.path)."""
import pytest
import torch


@pytest.fixture
def restore_num_threads():
    """Lets a test change torch.set_num_threads and puts the original count back afterwards."""
    n = torch.get_num_threads()
    yield n
    torch.set_num_threads(n)
