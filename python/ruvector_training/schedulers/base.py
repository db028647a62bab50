"""The contract every scheduler follows: one step counter, ``step_count``, and state dicts tagged
and checked like the optimizers' (``{"scheduler": <class name>, "step": <step_count>, ...}``)."""

from __future__ import annotations

from typing import TypeVar

from ruvector_training._checks import check_int

S = TypeVar("S", bound="Scheduler")

#: The key holding the class name in a state dict (the optimizers use ``"optimizer"``).
TAG = "scheduler"


class Scheduler:
    """Base of :class:`TemperatureScheduler`, :class:`CurriculumScheduler` and
    :class:`LossWeightScheduler`.

    A subclass keeps its position in ``_step_count`` (advanced by its ``step``), lists the
    configuration entries of its state dict in ``_CONFIG_KEYS``, and implements ``_config()``
    (those entries as JSON-able values) and ``_from_config(state)`` (a new scheduler at step 0,
    validated like the constructor, errors naming ``state_dict['<key>']``).
    ``_LEGACY_COUNTER`` names the key that held the step count in the state dicts saved before
    this contract (tagged ``"type"``), which :meth:`from_state_dict` still reads.
    """

    _CONFIG_KEYS: tuple[str, ...] = ()
    _LEGACY_COUNTER = "step"
    _step_count: int

    @property
    def step_count(self) -> int:
        """How far :meth:`step` advanced since construction or :meth:`reset`: one per call (by
        ``num_samples`` per call for a curriculum counted in samples)."""
        return self._step_count

    def reset(self) -> None:
        """Back to step 0 (the configuration is kept)."""
        self._step_count = 0

    def _config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def _from_config(cls: type[S], state: dict) -> S:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """A plain JSON-able dict: ``"scheduler"`` (the class name), ``"step"``
        (:attr:`step_count`) and the configuration, so :meth:`from_state_dict` rebuilds the
        scheduler exactly."""
        return {TAG: type(self).__name__, "step": self._step_count, **self._config()}

    @classmethod
    def from_state_dict(cls: type[S], state_dict: dict) -> S:
        """A new scheduler in the state :meth:`state_dict` saved, checked as strictly as the
        constructor's arguments. State dicts saved by earlier versions (tagged ``"type"``, with
        the counter under ``"epoch"`` or ``"position"``) are read too.

        Raises:
            TypeError: ``state_dict`` is not a dict, or an entry has the wrong type.
            ValueError: another class's state, a missing or unknown key, a negative step count
                or an invalid configuration (the message names the key).
        """
        state = _current_form(state_dict, cls)
        scheduler = cls._from_config(state)
        scheduler._step_count = check_int("state_dict['step']", state["step"])
        return scheduler

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores a :meth:`state_dict` (configuration and step count); checked completely by
        :meth:`from_state_dict` before anything changes."""
        restored = type(self).from_state_dict(state_dict)
        self.__dict__.update(restored.__dict__)


def _current_form(state_dict, cls: type[Scheduler]) -> dict:
    """``state_dict`` checked to be a dict of a ``cls`` with exactly the keys it saves, with a
    pre-contract state dict rewritten to the current keys."""
    name = cls.__name__
    if not isinstance(state_dict, dict):
        raise TypeError(
            f"state_dict: expected a dict from state_dict(), got {type(state_dict).__name__}"
        )
    state = dict(state_dict)
    if TAG not in state and "type" in state:
        state[TAG] = state.pop("type")
        if cls._LEGACY_COUNTER in state:
            state["step"] = state.pop(cls._LEGACY_COUNTER)
    if TAG not in state:
        raise ValueError(f"state_dict: missing key '{TAG}'")
    saved = state[TAG]
    if saved != name:
        raise ValueError(
            f"state_dict['{TAG}']: expected '{name}', got {saved!r} "
            "(saved by another scheduler class)"
        )
    for key in ("step", *cls._CONFIG_KEYS):
        if key not in state:
            raise ValueError(f"state_dict: missing key '{key}'")
    unknown = sorted(set(state) - {TAG, "step", *cls._CONFIG_KEYS})
    if unknown:
        raise ValueError(f"state_dict: unknown keys {unknown} (a {name} saves {cls._CONFIG_KEYS})")
    return state


def nested(key: str, build, value):
    """``build(value)`` for the configuration entry ``key``, with a ``TypeError`` /
    ``ValueError`` re-raised to name ``state_dict['<key>']`` (a constructor's ``"stages[0]:
    ..."`` becomes ``"state_dict['stages'][0]: ..."``)."""
    try:
        return build(value)
    except (TypeError, ValueError) as err:
        arg, message = f"state_dict['{key}']", str(err)
        if message.startswith((f"{key}:", f"{key}[")):
            raise type(err)(arg + message[len(key) :]) from None
        if message.startswith("["):
            raise type(err)(arg + message) from None
        raise type(err)(f"{arg}: {message}") from None
