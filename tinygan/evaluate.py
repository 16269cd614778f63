"""``python -m tinygan.evaluate SAMPLES.npy|CHECKPOINT``: the scoring command (it lives in tinygan/app/evaluate.py)."""
import sys

from tinygan.app.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
