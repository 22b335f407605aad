"""`lorasearch evaluate`: the best trials (and the base model) scored on more records, on the val
split to re-rank them or on the held-out test split once the choice is made, the way OCR results
are published: CER, WER, exact match and character F1, each with a bootstrap interval, and paired
differences that say whether two rows differ beyond the records' noise.

The generation runs in a worker process (`_worker.py`); the parent (`_run.py`) scores the files it
writes (`_generations.py`) with `lorasearch_tui.scores`; a re-ranking stops a candidate early when it is
significantly worse than the leader (`_rerank.py`). No UI library here: the CLI renders.
"""

from ..scores import RecordScore, paired, score_record, summarize
from ._candidates import BASE, Candidate, adapter_candidates, ranked_trials, study_candidates
from ._generations import Generation, generations_file, read_generations
from ._rerank import to_stop, worse_p
from ._run import Progress, generate, records_of, save, score
from ._source import EVALUATION_ATTR, Evaluated, Request, confirmed_file, evaluate, evaluation_file

__all__ = [
    "EVALUATION_ATTR",
    "Evaluated",
    "Request",
    "confirmed_file",
    "evaluate",
    "evaluation_file",
    "BASE",
    "Candidate",
    "Generation",
    "Progress",
    "RecordScore",
    "adapter_candidates",
    "generate",
    "generations_file",
    "paired",
    "ranked_trials",
    "read_generations",
    "records_of",
    "save",
    "score",
    "score_record",
    "study_candidates",
    "summarize",
    "to_stop",
    "worse_p",
]
