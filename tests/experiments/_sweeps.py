"""Sample W&B sweep ``parameters`` and build the command the agent would run.

The sampling follows the sweep-configuration reference (docs.wandb.ai, "sweep configuration
options"): ``value`` (constant), ``values`` (categorical, optional ``probabilities``),
``int_uniform``, ``uniform``, ``q_uniform``, ``log_uniform`` (bounds are natural-log exponents),
``log_uniform_values``, ``q_log_uniform(_values)``, ``inv_log_uniform(_values)``, ``normal``,
``q_normal``, ``log_normal``, ``q_log_normal``, ``beta``, ``q_beta``; a spec with only ``min``/
``max`` is ``int_uniform`` when both are integers, else ``uniform``. The command is expanded with
wandb's own ``create_sweep_command`` / ``create_sweep_command_args``, exactly as
``wandb.wandb_agent.Agent._command_run`` does, so the argument strings (``--a.b=1e-05``,
``--flag=False``) are the ones a real agent passes.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

GAUSSIAN = {"normal", "q_normal", "log_normal", "q_log_normal"}
BETA = {"beta", "q_beta"}


def distribution(spec: dict[str, Any]) -> str:
    """The distribution name of one parameter spec (explicit or inferred as wandb does)."""
    if "parameters" in spec:
        raise NotImplementedError(
            "nested sweep parameters become one dict-valued argument; keep sweep parameters flat "
            "(dotted LightningCLI keys such as model.init_args.lr)"
        )
    if "distribution" in spec:
        return str(spec["distribution"])
    if "value" in spec:
        return "constant"
    if "values" in spec:
        return "categorical"
    if "min" in spec and "max" in spec:
        return "int_uniform" if all(isinstance(spec[k], int) for k in ("min", "max")) else "uniform"
    raise ValueError(f"cannot infer the distribution of {spec}")


def _quantize(x: float, spec: dict[str, Any]) -> float | int:
    q = spec.get("q", 1)
    value = round(x / q) * q
    return int(value) if isinstance(q, int) and float(value).is_integer() else value


def sample_one(spec: dict[str, Any], rng: random.Random) -> Any:
    """One draw from one parameter spec."""
    dist = distribution(spec)
    if dist == "constant":
        return spec["value"]
    if dist == "categorical":
        values = list(spec["values"])
        return rng.choices(values, weights=spec.get("probabilities"))[0]
    lo, hi = spec.get("min"), spec.get("max")
    mu, sigma = spec.get("mu", 0.0), spec.get("sigma", 1.0)
    if dist == "int_uniform":
        return rng.randint(int(lo), int(hi))
    if dist in ("uniform", "q_uniform"):
        x = rng.uniform(lo, hi)
        return _quantize(x, spec) if dist == "q_uniform" else x
    if dist in ("log_uniform", "q_log_uniform"):
        x = math.exp(rng.uniform(lo, hi))
        return _quantize(x, spec) if dist == "q_log_uniform" else x
    if dist in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
        x = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        return _quantize(x, spec) if dist == "q_log_uniform_values" else x
    if dist == "inv_log_uniform":
        return math.exp(-rng.uniform(lo, hi))
    if dist in ("normal", "q_normal"):
        x = rng.gauss(mu, sigma)
        return _quantize(x, spec) if dist == "q_normal" else x
    if dist in ("log_normal", "q_log_normal"):
        x = math.exp(rng.gauss(mu, sigma))
        return _quantize(x, spec) if dist == "q_log_normal" else x
    if dist in BETA:
        x = rng.betavariate(spec.get("a", 1.0), spec.get("b", 1.0))
        return _quantize(x, spec) if dist == "q_beta" else x
    raise ValueError(f"unknown sweep distribution {dist!r}")


def extremes(spec: dict[str, Any]) -> list[Any]:
    """Values that must all be valid: every categorical value, both ends of every range."""
    dist = distribution(spec)
    if dist == "constant":
        return [spec["value"]]
    if dist == "categorical":
        return list(spec["values"])
    lo, hi = spec.get("min"), spec.get("max")
    if dist in ("int_uniform", "uniform"):
        return [lo, hi]
    if dist == "q_uniform":
        return [_quantize(lo, spec), _quantize(hi, spec)]
    if dist in ("log_uniform", "q_log_uniform"):
        ends = [math.exp(lo), math.exp(hi)]
        return [_quantize(x, spec) for x in ends] if dist.startswith("q_") else ends
    if dist in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
        return [_quantize(lo, spec), _quantize(hi, spec)] if dist.startswith("q_") else [lo, hi]
    if dist == "inv_log_uniform":
        return [math.exp(-hi), math.exp(-lo)]
    if dist in GAUSSIAN:
        mu, sigma = spec.get("mu", 0.0), spec.get("sigma", 1.0)
        ends = [mu - 3 * sigma, mu + 3 * sigma]
        ends = [math.exp(x) for x in ends] if "log" in dist else ends
        return [_quantize(x, spec) for x in ends] if dist.startswith("q_") else ends
    if dist in BETA:
        return [_quantize(x, spec) for x in (0.0, 1.0)] if dist == "q_beta" else [0.0, 1.0]
    raise ValueError(f"unknown sweep distribution {dist!r}")


def sample(parameters: dict[str, dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    """One random/bayes-style draw of every parameter."""
    return {name: sample_one(spec, rng) for name, spec in parameters.items()}


def grid(parameters: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every combination (method: grid; only value/values specs)."""
    names = list(parameters)
    choices = [extremes(parameters[n]) for n in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*choices)]


def covering_points(parameters: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Few points that together use every value of :func:`extremes` of every parameter."""
    ends = {name: extremes(spec) for name, spec in parameters.items()}
    n = max(len(v) for v in ends.values())
    return [{name: values[i % len(values)] for name, values in ends.items()} for i in range(n)]


def agent_command(sweep: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """The argv a ``wandb agent`` runs for ``params`` (macros expanded with wandb's own code)."""
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    command = sweep_utils.create_sweep_command(list(sweep["command"]))
    sweep_vars = sweep_utils.create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})
    sweep_vars["interpreter"] = ["python"]
    sweep_vars["program"] = [sweep["program"]]
    sweep_vars["env"] = ["/usr/bin/env"]
    argv: list[str] = []
    for chunk in map(str, command):
        if chunk.startswith("${") and chunk.endswith("}"):
            argv += sweep_vars.get(chunk[2:-1]) or []
        else:
            argv.append(chunk)
    return argv
