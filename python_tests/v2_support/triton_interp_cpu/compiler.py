"""The backend's compiler half: claims the "cpu" target and refuses to compile (the interpreter runs the kernels)."""
from triton.backends.compiler import BaseBackend

_NO = "triton_interp_cpu cannot compile: set TRITON_INTERPRET=1 (python_tests/v2_support)"


class InterpCPUBackend(BaseBackend):
    @staticmethod
    def supports_target(target):
        return getattr(target, "backend", None) == "cpu"

    def hash(self):
        return "interp-cpu"

    def parse_options(self, options):
        raise RuntimeError(_NO)

    def add_stages(self, stages, options, language):
        raise RuntimeError(_NO)

    def load_dialects(self, context):
        pass

    def get_module_map(self):
        return {}
