"""`flow sweep`: a grid of builds, estimates or accuracy evaluations (model x bits x quantization recipe x
part) run as tasks on Ray; grid.py reads the grid, cell.py runs one cell, engine.py schedules them, and
results.py writes the table and the accuracy-against-FPS Pareto plot."""
