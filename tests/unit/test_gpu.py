"""GPU parity: skipped without CUDA, run on a lent GPU machine."""

import pytest
import torch

import swin_tutorial as st

pytestmark = pytest.mark.gpu


def test_default_device_is_cuda():
    assert st.default_device().type == "cuda"


def test_swin_t_logits_equal_on_cpu_and_gpu():
    torch.manual_seed(0)
    model = st.swin_t().eval()
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        cpu = model(images)
        gpu = model.to("cuda")(images.to("cuda")).cpu()
    assert ((gpu - cpu).norm() / cpu.norm()) < 1e-4


@pytest.mark.parametrize("H, W", [(14, 14), (10, 13)])
def test_fused_equals_explicit_on_gpu(H, W):
    torch.manual_seed(1)
    fused = st.SwinBlock(96, 3, 7, 3, fused=True).eval().cuda()
    explicit = st.SwinBlock(96, 3, 7, 3, fused=False).eval().cuda()
    explicit.load_state_dict(fused.state_dict())
    x = torch.randn(4, H, W, 96, device="cuda")
    with torch.no_grad():
        a, b = fused(x), explicit(x)
    assert ((a - b).norm() / b.norm()) < 1e-5
