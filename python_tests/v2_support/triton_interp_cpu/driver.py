"""The backend's driver half: always "active", targets the CPU; nothing it offers launches a kernel."""
from triton.backends.compiler import GPUTarget
from triton.backends.driver import DriverBase


class InterpCPUDriver(DriverBase):
    @staticmethod
    def is_active():
        return True

    def map_python_to_cpp_type(self, ty):
        raise NotImplementedError

    def get_current_target(self):
        return GPUTarget("cpu", "interp", 0)

    def get_active_torch_device(self):
        import torch

        return torch.device("cpu")

    def get_benchmarker(self):
        raise NotImplementedError
