"""The censor ladder (being written)."""
import sys
print("skip: being written")
sys.exit(77)
