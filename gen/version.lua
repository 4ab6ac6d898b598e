-- The generator's version: the one place it is written (banner, --version).
return "0.1.0"
