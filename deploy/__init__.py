"""Deployment helpers: generators that turn the message catalog into Terraform inputs and the
Dataflow flex template metadata, so neither is ever edited by hand (the tests regenerate both
in memory and fail on drift)."""
