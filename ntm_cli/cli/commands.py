"""The `ntm` command line: parse, build a config, call library code, report.

JAX is imported only inside the commands that need it, so `ntm --help` answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ntm_cli import __version__
from ntm_cli.cli.bench import bench_command
from ntm_cli.cli.compare import compare_command, runs_command
from ntm_cli.cli.sweep import sweep_command
from ntm_cli.cli.figures import memory_command, plot_command
from ntm_cli.cli.train import eval_command, train_command
from ntm_cli.cli.options import Checkpoint, with_task_sizes
from ntm_cli.cli.output import console, error_console, print_usage_error, show, reported_errors

def _flags_show_no_type() -> None:
    """Help shows a type beside each option (`<int>`); a flag takes no value, so it shows none
    (Typer would print `<bool>` beside --json and --help)."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "flags_show_none", False):
        return

    def display_type_rich(self, ctx):
        return None if getattr(self, "is_flag", False) and not self.metavar else shown(self, ctx)

    display_type_rich.flags_show_none = True
    TyperOption.display_type_rich = display_type_rich


_flags_show_no_type()


def _usage_errors_in_one_sentence() -> None:
    """Typer prints a value it refuses while parsing (`--steps abc`) as a usage line and a boxed
    message; the tool's own checks answer in one sentence. Both answer alike: Typer's hook for
    printing a usage error is `typer.rich_utils.rich_format_error`."""
    import typer.rich_utils

    typer.rich_utils.rich_format_error = print_usage_error


_usage_errors_in_one_sentence()

app = typer.Typer(
    name="ntm",
    help="Train, compare and understand Neural Turing Machines on the paper's algorithmic tasks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"ntm {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Train, compare and understand Neural Turing Machines on the paper's algorithmic tasks."""


@app.command("tasks")
def tasks_command() -> None:
    """List the tasks with their sizes, sequence length T, chance-level cost and what solving each means."""
    from ntm_cli.reports.tables import tasks_table
    from ntm_cli.tasks.registry import PLUGIN_PROBLEMS, TASK_NAMES, make_task

    for problem in PLUGIN_PROBLEMS.values():  # the healthy tasks are listed all the same
        error_console.print(f"Warning: {problem}", markup=False, soft_wrap=True)
    tasks = [make_task(name) for name in TASK_NAMES]
    show(tasks_table(tasks), ("aliases", "floor", "in / out"))
    for task in tasks:
        console.print(f"[bold]{task.name}[/]: {task.summary}.", soft_wrap=True)
        if task.solved_text():
            console.print(f"  solved: {task.solved_text()}.", markup=False, soft_wrap=True)


@app.command("show")
@with_task_sizes
def show_command(
    task: Annotated[str, typer.Argument(help="Task name or alias (see `ntm tasks`).")],
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="Seed of the sample's PRNG key.")] = 0,
    batch_index: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="Which example of the seed's stream.")] = 0,
    *,
    task_sizes: dict[str, int],
) -> None:
    """Print one sample of a task: every channel over time ('#' = 1, '.' = 0), target and mask."""
    from ntm_cli.tasks import make_task
    from ntm_cli.tasks.registry import check_samples

    from ntm_cli.training import resources

    with reported_errors():
        built = make_task(task, **task_sizes)
        check_samples(built)  # a plugin's task: its batches keep the contract
        resources.check_fits(resources.batch_bytes(built, 1) * 3, f"a sample of {built.name} with T={built.max_time}")
    import jax

    batch = built.sample_at(jax.random.key(seed), batch_index)
    title = f"{built.name}: seed {seed}, example {batch_index}"
    console.print(built.render(batch, 0, title=title), markup=False, soft_wrap=True)


@app.command("params")
def params_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print the rows as JSON on stdout.")] = False,
) -> None:
    """Parameter counts of the paper's 15 configurations (Tables 1-3): ours beside the paper's."""
    from ntm_cli.experiments.paper import paper_param_rows
    from ntm_cli.reports.tables import params_table

    rows = paper_param_rows()
    if json_output:
        import json

        print(json.dumps(rows))
    else:
        show(params_table(rows))


@app.command("export")
def export_command(
    run: Annotated[Path, typer.Argument(help="A finished run folder.")],
    out: Annotated[Optional[Path], typer.Option(help="The folder to write (default: <run>/export); it must not hold anything yet.")] = None,
    checkpoint: Annotated[Checkpoint, typer.Option(help="The best held-out checkpoint, or the latest.")] = Checkpoint("best"),
) -> None:
    """Write a trained model that JAX alone can run: its forward pass (jax.export, StableHLO, any
    batch size), its parameters (.npz and an Orbax checkpoint) and its config; README.txt inside
    says how to call it. In Python: `ntm_cli.load_run(RUN)`."""
    from ntm_cli.training.export import export_run

    with reported_errors():
        paths = export_run(run, out if out is not None else run / "export", checkpoint.value)
    for path in paths:
        console.print(f"saved {path}", markup=False, soft_wrap=True)


app.command("train")(train_command)
app.command("eval")(eval_command)
app.command("compare")(compare_command)
app.command("runs")(runs_command)
app.command("sweep")(sweep_command)
app.command("plot")(plot_command)
app.command("memory")(memory_command)
app.command("bench")(bench_command)


def main() -> None:
    """Console-script entry point: on a CPU one XLA host device per core, compiled programs kept
    between commands, then the command."""
    from ntm_cli.training.devices import use_compilation_cache, use_every_core

    use_every_core()
    use_compilation_cache()
    app()
