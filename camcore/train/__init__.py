"""Fine-tuning a classifier on Oxford-IIIT Pet into a run folder (camcore.jobs.runs): config, data, model, loop."""
from camcore.train.config import LESSON, QUICK_DEMO, TASKS, ConfigError, TrainConfig

__all__ = ["LESSON", "QUICK_DEMO", "TASKS", "ConfigError", "TrainConfig"]
