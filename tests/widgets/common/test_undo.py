"""The QUndoStack mirror of a review document's history never diverges from it."""

from engines.core.review import ItemState, ReviewDocument, ReviewItem
from engines.core.review_commands import SetClass, SetNote, decide
from widgets.common.undo import ReviewUndoStack


def _doc():
    return ReviewDocument(["a", "b"], [ReviewItem(i, 0, score=i / 10) for i in range(5)])


def test_push_undo_redo_follow_the_document(qtbot):
    doc = _doc()
    bridge = ReviewUndoStack(doc)
    assert bridge.push(decide([1], state=ItemState.ACCEPTED))
    assert bridge.push(SetClass([2], 1))
    assert not bridge.push(SetClass([2], 1))  # no change: not recorded anywhere
    assert bridge.stack.count() == 2 and bridge.in_sync()
    undo, redo = bridge.create_actions(None)
    assert undo.text().startswith("Undo Set class 1")
    assert [k.toString() for k in redo.shortcuts()] == ["Ctrl+Shift+Z", "Ctrl+Y"]
    undo.trigger()
    assert doc[2].label == 0 and bridge.stack.index() == 1 and bridge.in_sync()
    bridge.undo()
    assert not doc[1].reviewed and not doc.can_undo and bridge.in_sync()
    redo.trigger()
    assert doc[1].reviewed and bridge.in_sync()
    assert bridge.push(SetNote(0, "x"))  # a new edit drops the redo tail in both
    assert bridge.stack.count() == 2 and len(doc.history) == 2 and bridge.in_sync()


def test_a_direct_edit_of_the_document_rebuilds_the_stack(qtbot):
    doc = _doc()
    bridge = ReviewUndoStack(doc)
    bridge.push(SetNote(0, "via the stack"))
    doc.execute(SetNote(1, "behind its back"))
    assert bridge.in_sync() and bridge.stack.count() == 2
    assert bridge.stack.undoText() == doc.undo_text
    bridge.undo()
    assert doc[1].note == "" and doc[0].note == "via the stack"
    doc.undo()  # directly again
    assert bridge.in_sync() and bridge.stack.index() == 0


def test_switching_documents(qtbot):
    first, second = _doc(), _doc()
    second.execute(SetNote(3, "earlier"))
    bridge = ReviewUndoStack(first)
    bridge.push(SetNote(0, "x"))
    bridge.set_document(second)
    assert bridge.stack.count() == 1 and bridge.stack.undoText() == second.undo_text
    first.execute(SetNote(1, "y"))  # no longer followed
    assert bridge.in_sync()
    bridge.undo()
    assert second[3].note == "" and first[1].note == "y"
