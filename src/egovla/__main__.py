from egovla.cli import app

app()
