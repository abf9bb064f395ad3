# The notify bench's trainer: exits at once without a result (the agent reports TRAINING_FAILED). The bench measures
# how fast agents learn of work; real training would only load the machine it measures on.
import sys

sys.exit(1)
