"""Entry point for `pulumi up` / `pulumi preview` on every stack in this folder."""

from inferstack.program import main

main()
