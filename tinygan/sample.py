"""``python -m tinygan.sample CHECKPOINT``: the sampling command (it lives in tinygan/app/sample.py)."""
import sys

from tinygan.app.sample import main

if __name__ == "__main__":
    sys.exit(main())
