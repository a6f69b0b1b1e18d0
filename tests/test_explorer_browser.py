"""The attention explorer in a real browser: JupyterLab on the loopback address, headless Chromium.

A small notebook made here (in a temporary folder) shows the explorer for the pre-trained encoder in bert/.
The test opens it in JupyterLab, runs it, changes the layer selector and saves a screenshot before and after
as build/explorer/before.png and after.png, which must differ. Every request the page makes, WebSockets
included, must stay on 127.0.0.1 (or be a data:/blob: URL). Chromium is driven through the DevTools protocol
with the client of tests/test_slides_browser.py; `make chromium` installs Debian's package.
"""
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest
from test_slides_browser import Page, chromium

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "explorer"
JUPYTER = Path(sys.executable).parent / "jupyter"
EXPLORER_CELL = """\
from course import explorer
import torchnlp

adapter = explorer.BertAttention.from_pretrained(torchnlp.bert_model_path())
attention_explorer = explorer.show(adapter, "Federer beats Nadal in the Wimbledon final.", kind="matrix", head=2)
"""
LOCAL = ("http://127.0.0.1:", "ws://127.0.0.1:", "http://localhost:", "ws://localhost:", "data:", "blob:")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_lab(folder, port, token):
    """JupyterLab on 127.0.0.1 with its own config, settings and runtime folders, no news, no update checks."""
    settings = folder / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True}))
    config = folder / "config"
    config.mkdir()
    for name in ("jupyter_server_config.py", "jupyter_lab_config.py"):
        (config / name).write_text("c.LabApp.news_url = None\n"
                                   "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_WIDGETS", "JPY_SESSION_NAME")}
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(folder / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"), IPYTHONDIR=str(folder / "ipython"),
               OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    log = open(folder / "lab.log", "w")
    process = subprocess.Popen(
        [str(JUPYTER), "lab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False", "--no-browser",
         f"--ServerApp.root_dir={folder / 'work'}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.extension_manager=readonly", "--allow-root"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"JupyterLab did not start: {(folder / 'lab.log').read_text()[-2000:]}") from None
            time.sleep(0.2)


@contextlib.contextmanager
def lab_in_browser(files, lab_settings=None):
    """JupyterLab on 127.0.0.1 serving ``files`` (name -> bytes) from a temporary folder, and a headless Chromium
    page: yields (page, port, token). ``lab_settings`` maps "extension/plugin" (under @jupyterlab) to settings."""
    binary = chromium()
    if not JUPYTER.exists():
        pytest.skip(f"no {JUPYTER}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "work").mkdir()
        for name, data in files.items():
            (folder / "work" / name).write_bytes(data)
        for plugin, values in (lab_settings or {}).items():
            extension, name = plugin.split("/")
            (folder / "lab-settings" / "@jupyterlab" / extension).mkdir(parents=True, exist_ok=True)
            (folder / "lab-settings" / "@jupyterlab" / extension / f"{name}.jupyterlab-settings").write_text(
                json.dumps(values))
        port, token = free_port(), uuid.uuid4().hex
        lab = start_lab(folder, port, token)
        (folder / "profile").mkdir()
        page = Page(binary, folder / "profile")
        try:
            yield page, port, token
        finally:
            page.close()
            stop(lab)


def stop(process):
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def test_explorer_in_jupyterlab():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(EXPLORER_CELL)])
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    SHOTS.mkdir(parents=True, exist_ok=True)
    with lab_in_browser({"explorer.ipynb": nbformat.writes(notebook).encode()}) as (page, port, token):
        check_explorer(page, port, token)


def check_explorer(page, port, token):
    page.send("Page.navigate", url=f"http://127.0.0.1:{port}/lab/tree/explorer.ipynb?token={token}")
    # A headless window has no focus, so the shell has no current widget: find the notebook among the tabs.
    panel = "[...(window.jupyterapp?.shell.widgets('main') ?? [])].find(w => w.sessionContext)"
    kernel_idle = f"{panel}?.sessionContext.session?.kernel?.status === 'idle'"
    assert page.wait_for(kernel_idle, 60), "JupyterLab did not open the notebook with an idle kernel"
    page.evaluate(f"window.jupyterapp.shell.activateById({panel}.id), "
                  "window.jupyterapp.commands.execute('notebook:run-all-cells'), true")
    figure = "document.querySelector('.explorer-figure')"
    loaded = f"{figure} !== null && {figure}.complete && {figure}.naturalWidth > 0"
    assert page.wait_for(loaded, 60), "the explorer did not render: " + page.evaluate(
        "document.querySelector('.jp-OutputArea')?.innerText ?? 'no output'")
    assert not page.evaluate("document.body.innerText.includes('Error displaying widget')")
    page.evaluate("document.querySelector('.explorer-text').scrollIntoView(), true")
    time.sleep(0.5)
    page.screenshot(SHOTS / "before.png")

    source = page.evaluate(f"{figure}.src")
    assert page.evaluate("document.querySelector('.explorer-layer select').selectedIndex") == 5  # layer 6
    page.evaluate("""(() => { const select = document.querySelector('.explorer-layer select');
        select.selectedIndex = 0; select.dispatchEvent(new Event('change', {bubbles: true})); return true; })()""")
    changed = f"{figure}.src !== {json.dumps(source)} && {figure}.complete && {figure}.naturalWidth > 0"
    assert page.wait_for(changed, 30), "the figure did not change after the layer selector did"
    time.sleep(0.5)
    page.screenshot(SHOTS / "after.png")

    before, after = (SHOTS / "before.png").read_bytes(), (SHOTS / "after.png").read_bytes()
    assert before[:8] == after[:8] == b"\x89PNG\r\n\x1a\n" and before != after

    sent = [e["params"]["request"]["url"] for e in page.events if e.get("method") == "Network.requestWillBeSent"]
    sockets = [e["params"]["url"] for e in page.events if e.get("method") == "Network.webSocketCreated"]
    remote = [url for url in sent + sockets if not url.startswith(LOCAL)]
    assert sent and sockets and not remote, f"requests that leave the machine: {remote}"
    print(f"{len(sent)} requests and {len(sockets)} WebSockets, all on 127.0.0.1; screenshots in {SHOTS}")
