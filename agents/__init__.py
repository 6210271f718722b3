"""Agents of the market: lender agents (Mesa) with their balance sheets, and the borrower population."""
