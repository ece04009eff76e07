"""Analysis reads finished result files only; it never measures."""
