"""torchrun's world: rank and size from the environment, each rank's device, the single process's shortcuts, and two
real gloo processes (joined through torchrun's env:// variables) summing and gathering across ranks."""
from __future__ import annotations

import json
import multiprocessing
import socket
from pathlib import Path

import pytest
import torch
from torch import nn

from camcore import distributed
from camcore.distributed import World


def test_world_comes_from_torchrun_s_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    alone = distributed.world_from_env()
    assert alone == World(0, 1) and alone.main
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    third = distributed.world_from_env()
    assert (third.rank, third.size, third.main) == (2, 4, False)


def test_each_rank_has_its_own_gpu_and_shares_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.device objects only: no GPU needed."""
    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert World(1, 2).device(cpu) == cpu
    assert World(0, 1).device(gpu) == gpu
    assert World(1, 2).device(gpu) == torch.device("cuda", 1)  # no LOCAL_RANK: the rank
    monkeypatch.setenv("LOCAL_RANK", "3")  # the node's own numbering, as torchrun sets it on a second node
    assert World(5, 8).device(gpu) == torch.device("cuda", 3)


def test_one_process_needs_no_process_group() -> None:
    alone, cpu = World(), torch.device("cpu")
    distributed.join(alone, cpu)
    assert not torch.distributed.is_initialized()
    module = nn.Linear(2, 1)
    assert distributed.wrap(module, alone, cpu) is module
    values = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert distributed.all_sum(values, alone) is values and values.tolist() == [1.0, 2.0]
    assert distributed.everyone("bad.jpg", alone) == ["bad.jpg"]
    assert distributed.on_main(7, alone) == [7]
    distributed.leave(alone)


def _rank(rank: int, port: int, out: str) -> None:
    """One of two gloo ranks, as torchrun would start it; writes what it saw to out/rank<rank>.json."""
    import os

    torch.set_num_threads(1)  # no OpenMP pool of the parent's in a forked child
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2")
    world, cpu = distributed.world_from_env(), torch.device("cpu")
    distributed.join(world, cpu)
    backend = torch.distributed.get_backend()
    sums = distributed.all_sum(torch.tensor([rank + 1.0, 10.0 * (rank + 1)], dtype=torch.float64), world)
    wrapped = distributed.wrap(nn.Linear(2, 1), world, cpu)
    seen = {"backend": backend, "sums": sums.tolist(), "everyone": distributed.everyone(f"line {rank}", world),
            "on_main": distributed.on_main(rank * 5, world), "ddp": type(wrapped).__name__}
    distributed.leave(world)
    seen["left"] = not torch.distributed.is_initialized()
    Path(out, f"rank{rank}.json").write_text(json.dumps(seen))


def test_two_gloo_ranks_sum_and_gather_in_rank_order(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    context = multiprocessing.get_context("fork")  # torch already imported: a second, not seconds, per rank
    ranks = [context.Process(target=_rank, args=(rank, port, str(tmp_path))) for rank in (0, 1)]
    try:
        for process in ranks:
            process.start()
        for process in ranks:
            process.join(120)
    finally:
        for process in ranks:
            if process.is_alive():  # a rank stuck in a collective: end it, the exit codes below then fail
                process.kill()
                process.join()
    assert [process.exitcode for process in ranks] == [0, 0]
    first, second = (json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1))
    for seen in (first, second):
        assert seen["backend"] == "gloo" and seen["sums"] == [3.0, 30.0]  # 1 + 2 and 10 + 20, on every rank
        assert seen["everyone"] == ["line 0", "line 1"] and seen["ddp"] == "DistributedDataParallel"
        assert seen["left"]
    assert first["on_main"] == [0, 5] and second["on_main"] is None
