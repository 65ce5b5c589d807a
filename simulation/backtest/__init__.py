"""Program dry-run and backtest: replay a candidate program over the history in the app
database, in a throwaway copy, sending nothing; compare with what the current program did."""
