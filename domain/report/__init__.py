"""The program report: metrics defined once, by month and in total. Pure."""
