"""The evaluation harness: the system and three baselines scored against simulated ground truth.

from app.evaluation import evaluate, load_truth, load_scores, load_event_frame
result = evaluate(load_truth(p / "truth.json"), load_event_frame(p / "events.ndjson"), load_scores(f))
result.results["distillguard"]["average_precision"]
"""

from app.evaluation.harness import Evaluation, evaluate
from app.evaluation.sources import AccountScore, fetch_scores, load_event_frame, load_scores, load_truth

__all__ = ["AccountScore", "Evaluation", "evaluate", "fetch_scores", "load_event_frame", "load_scores", "load_truth"]
