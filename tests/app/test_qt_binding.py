"""Guards against a Qt binding whose Signal.emit corrupts reference counts.

PySide6 6.12.0 on Python 3.11 decrements the refcount of ``True`` on every emit and aborts
after a few hundred; pyqtgraph emits that many signals in seconds of normal use.
"""

import subprocess
import sys

CODE = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal
app = QCoreApplication([])
class Emitter(QObject):
    fired = Signal(object)
emitter = Emitter()
emitter.fired.connect(lambda value: None)
before = sys.getrefcount(True)
for i in range(5000):
    emitter.fired.emit(i)
print(sys.getrefcount(True) - before)
"""


def test_signal_emit_keeps_reference_counts():
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60,
                            env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert result.returncode == 0, f"emitting 5000 signals crashed the interpreter: {result.stderr[-300:]}"
    assert abs(int(result.stdout.strip())) < 100
