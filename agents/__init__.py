"""Agents of the market: lender agents (Mesa) and the borrower population."""
