"""The VTK pipeline of the 3-D view, in world (LPS) mm; imported only when a 3-D view is made.

Props: the volume (``vtkSmartVolumeMapper``: GPU ray casting where OpenGL allows it, else
VTK's CPU ray caster), one surface actor per label, spheres (one instanced glyph mapper),
box outlines, the three slice planes of the crosshair as outlines in the slice views' colours,
and an orientation cube (L/R, A/P, S/I) in the lower-left corner. The image data carry the
volume's origin, spacing and direction matrix, so every prop shares one world frame.
"""

from __future__ import annotations

import numpy as np
import vtkmodules.vtkInteractionStyle  # noqa: F401 (registers the interactor styles)
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401 (the OpenGL render window)
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401 (the GPU volume mapper)
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray, vtk_to_numpy
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import (
    vtkCellArray,
    vtkImageData,
    vtkPiecewiseFunction,
    vtkPlane,
    vtkPlaneCollection,
    vtkPolyData,
)
from vtkmodules.vtkFiltersSources import vtkSphereSource
from vtkmodules.vtkRenderingAnnotation import vtkAnnotatedCubeActor
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkColorTransferFunction,
    vtkGlyph3DMapper,
    vtkPolyDataMapper,
    vtkRenderer,
    vtkRenderWindow,
    vtkVolume,
    vtkVolumeProperty,
    vtkWindowToImageFilter,
)
from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkSmartVolumeMapper

from engines.imaging.surfaces import Surface
from engines.imaging.volume_rendering import BOX_EDGES, RenderVolume, TransferFunction

BACKGROUND_TOP = (0.32, 0.34, 0.43)  # Slicer's blue-grey gradient
BACKGROUND_BOTTOM = (0.05, 0.05, 0.08)
#: camera position relative to the focal point and view-up, per side looked from (LPS)
CAMERA_SIDES = {
    "anterior": ((0, -1, 0), (0, 0, 1)), "posterior": ((0, 1, 0), (0, 0, 1)),
    "left": ((1, 0, 0), (0, 0, 1)), "right": ((-1, 0, 0), (0, 0, 1)),
    "superior": ((0, 0, 1), (0, -1, 0)), "inferior": ((0, 0, -1), (0, -1, 0)),
}
RENDER_MODES = {0: "CPU ray casting", 1: "CPU ray casting", 2: "GPU ray casting",
                4: "OSPRay", 5: "ANARI"}


def _colour(rgb) -> tuple[float, float, float]:
    return tuple(float(c) / 255.0 for c in tuple(rgb)[:3])


def polydata(points: np.ndarray, cells: np.ndarray | None = None, lines: bool = False
             ) -> vtkPolyData:
    """Poly data of ``points`` (n, 3) and cells (m, k) point indices (triangles or lines)."""
    data = vtkPolyData()
    vtk_points = vtkPoints()
    vtk_points.SetData(numpy_to_vtk(np.ascontiguousarray(points, dtype=np.float32), deep=True))
    data.SetPoints(vtk_points)
    if cells is not None and len(cells):
        cells = np.asarray(cells, dtype=np.int64)
        offsets = np.arange(0, cells.size + 1, cells.shape[1], dtype=np.int64)
        array = vtkCellArray()
        array.SetData(numpy_to_vtkIdTypeArray(offsets, deep=True),
                      numpy_to_vtkIdTypeArray(cells.ravel(), deep=True))
        if lines:
            data.SetLines(array)
        else:
            data.SetPolys(array)
    return data


class VtkScene:
    """Everything drawn in one VTK render window."""

    def __init__(self, render_window: vtkRenderWindow) -> None:
        self.render_window = render_window
        self.renderer = vtkRenderer()
        self.renderer.GradientBackgroundOn()
        self.renderer.SetBackground(*BACKGROUND_BOTTOM)
        self.renderer.SetBackground2(*BACKGROUND_TOP)
        self.renderer.SetUseDepthPeeling(True)  # translucent lungs, spheres and volume
        self.renderer.SetMaximumNumberOfPeels(8)
        render_window.SetAlphaBitPlanes(True)
        render_window.SetMultiSamples(0)
        render_window.SetNumberOfLayers(2)
        render_window.AddRenderer(self.renderer)
        self.planes = vtkPlaneCollection()
        self.volume_prop: vtkVolume | None = None
        self.volume_mapper: vtkSmartVolumeMapper | None = None
        self._image: vtkImageData | None = None
        self._array: np.ndarray | None = None  # keeps the texture's memory alive
        self.surfaces: dict[int, vtkActor] = {}
        self.boxes: dict[str, vtkActor] = {}
        self.spheres: vtkActor | None = None
        self.cursor: vtkActor | None = None
        self.cursor_visible = True
        self._sphere_source = vtkSphereSource()
        self._sphere_source.SetRadius(1.0)
        self._sphere_source.SetThetaResolution(24)
        self._sphere_source.SetPhiResolution(16)
        self._add_orientation_cube()

    # -- volume -----------------------------------------------------------------------------
    def set_volume(self, render_volume: RenderVolume, tf: TransferFunction) -> None:
        """Render ``render_volume`` (contiguous array, world geometry) through ``tf``."""
        volume = render_volume.volume
        nz, ny, nx = volume.shape
        image = vtkImageData()
        image.SetDimensions(nx, ny, nz)
        image.SetSpacing(*volume.spacing_xyz)
        image.SetOrigin(*volume.origin_xyz)
        image.SetDirectionMatrix(*np.asarray(volume.direction, dtype=np.float64).ravel())
        self._array = volume.array
        scalars = numpy_to_vtk(self._array.reshape(-1), deep=False)
        image.GetPointData().SetScalars(scalars)
        self._image = image
        if self.volume_prop is None:
            self.volume_mapper = vtkSmartVolumeMapper()
            self.volume_mapper.SetBlendModeToComposite()
            self.volume_mapper.SetClippingPlanes(self.planes)
            self.volume_prop = vtkVolume()
            self.volume_prop.SetMapper(self.volume_mapper)
            self.renderer.AddVolume(self.volume_prop)
        self.volume_mapper.SetInputData(image)
        self.set_transfer_function(tf)

    def set_transfer_function(self, tf: TransferFunction) -> None:
        if self.volume_prop is None:
            return
        colours = vtkColorTransferFunction()
        for value, r, g, b in tf.colours:
            colours.AddRGBPoint(value, r, g, b)
        opacity = vtkPiecewiseFunction()
        for value, alpha in tf.opacities:
            opacity.AddPoint(value, alpha)
        prop = vtkVolumeProperty()
        prop.SetColor(colours)
        prop.SetScalarOpacity(opacity)
        prop.SetScalarOpacityUnitDistance(tf.unit_distance_mm)
        if tf.gradient_opacities:
            gradient = vtkPiecewiseFunction()
            for magnitude, factor in tf.gradient_opacities:
                gradient.AddPoint(magnitude, factor)
            prop.SetGradientOpacity(gradient)
        prop.SetInterpolationTypeToLinear()
        prop.SetShade(bool(tf.shade))
        prop.SetAmbient(tf.ambient)
        prop.SetDiffuse(tf.diffuse)
        prop.SetSpecular(tf.specular)
        prop.SetSpecularPower(tf.specular_power)
        self.volume_prop.SetProperty(prop)

    def set_volume_visible(self, visible: bool) -> None:
        if self.volume_prop is not None:
            self.volume_prop.SetVisibility(bool(visible))

    def render_mode(self) -> str:
        """Which ray caster the smart mapper used last ('' before the first render)."""
        if self.volume_mapper is None:
            return ""
        return RENDER_MODES.get(self.volume_mapper.GetLastUsedRenderMode(), "")

    # -- surfaces ---------------------------------------------------------------------------
    def set_surfaces(self, surfaces: list[Surface], colours: dict[int, tuple[int, ...]]) -> None:
        """One actor per label (replacing earlier ones), coloured by ``colours`` (RGB 0–255)."""
        for actor in self.surfaces.values():
            self.renderer.RemoveActor(actor)
        self.surfaces = {}
        for surface in surfaces:
            data = polydata(surface.vertices, surface.faces)
            normals = numpy_to_vtk(np.ascontiguousarray(surface.normals), deep=True)
            normals.SetName("Normals")
            data.GetPointData().SetNormals(normals)
            mapper = vtkPolyDataMapper()
            mapper.SetInputData(data)
            mapper.ScalarVisibilityOff()
            mapper.SetClippingPlanes(self.planes)
            actor = vtkActor()
            actor.SetMapper(mapper)
            prop = actor.GetProperty()
            prop.SetColor(*_colour(colours[surface.label]))
            prop.SetSpecular(0.25)
            prop.SetSpecularPower(20)
            self.renderer.AddActor(actor)
            self.surfaces[surface.label] = actor

    def set_surface_opacity(self, label: int, opacity: float) -> None:
        if label in self.surfaces:
            self.surfaces[label].GetProperty().SetOpacity(opacity)

    def set_surface_visible(self, label: int, visible: bool) -> None:
        if label in self.surfaces:
            self.surfaces[label].SetVisibility(bool(visible))

    # -- clipping ---------------------------------------------------------------------------
    def set_clip_planes(self, planes: list[tuple[np.ndarray, np.ndarray]] | None) -> None:
        """Clip the volume and the surfaces to the planes (normals point into the kept side);
        None removes the clipping."""
        self.planes.RemoveAllItems()
        for origin, normal in planes or []:
            plane = vtkPlane()
            plane.SetOrigin(*origin)
            plane.SetNormal(*normal)
            self.planes.AddItem(plane)
        self.planes.Modified()
        for mapper in [self.volume_mapper] + [a.GetMapper() for a in self.surfaces.values()]:
            if mapper is not None:
                mapper.Modified()

    # -- markers ----------------------------------------------------------------------------
    def set_spheres(self, centres: np.ndarray, radii: np.ndarray, colours: np.ndarray) -> None:
        """Spheres at world ``centres`` (n, 3) mm of ``radii`` (n,) mm, RGB(A) 0–255 (n, 3|4)."""
        if self.spheres is not None:
            self.renderer.RemoveActor(self.spheres)
            self.spheres = None
        if len(centres) == 0:
            return
        data = polydata(centres)
        radius = numpy_to_vtk(np.asarray(radii, dtype=np.float32), deep=True)
        radius.SetName("radius")
        data.GetPointData().AddArray(radius)
        colour = numpy_to_vtk(np.ascontiguousarray(colours, dtype=np.uint8), deep=True)
        colour.SetName("colour")
        data.GetPointData().AddArray(colour)
        mapper = vtkGlyph3DMapper()
        mapper.SetInputData(data)
        # a pipeline connection does not keep its producer alive: the scene holds the source
        mapper.SetSourceConnection(self._sphere_source.GetOutputPort())
        mapper.SetScaleArray("radius")
        mapper.SetScaleModeToScaleByMagnitude()
        mapper.ScalingOn()
        mapper.SetScalarModeToUsePointFieldData()
        mapper.SelectColorArray("colour")
        mapper.SetColorModeToDirectScalars()
        self.spheres = vtkActor()
        self.spheres.SetMapper(mapper)
        self.renderer.AddActor(self.spheres)

    def set_box(self, name: str, corners: np.ndarray | None, colour=(235, 235, 235)) -> None:
        """Outline (12 edges) of the box with world ``corners`` (8, 3); None removes it."""
        if name in self.boxes:
            self.renderer.RemoveActor(self.boxes.pop(name))
        if corners is None:
            return
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(polydata(corners, BOX_EDGES, lines=True))
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*_colour(colour))
        actor.GetProperty().SetLineWidth(2.0)
        actor.GetProperty().LightingOff()
        self.renderer.AddActor(actor)
        self.boxes[name] = actor

    def set_cursor(self, loops: np.ndarray, colours: list[tuple[int, int, int]]) -> None:
        """The crosshair's slice planes: closed loops (3, 4, 3) world mm, one colour each."""
        cells = np.array([[4 * k + i, 4 * k + (i + 1) % 4] for k in range(3) for i in range(4)])
        data = polydata(loops.reshape(-1, 3), cells, lines=True)
        cell_colours = np.repeat(np.asarray(colours, dtype=np.uint8), 4, axis=0)
        data.GetCellData().SetScalars(numpy_to_vtk(cell_colours, deep=True))
        if self.cursor is None:
            mapper = vtkPolyDataMapper()
            mapper.SetColorModeToDirectScalars()
            mapper.SetScalarModeToUseCellData()
            self.cursor = vtkActor()
            self.cursor.SetMapper(mapper)
            self.cursor.SetVisibility(self.cursor_visible)
            self.cursor.GetProperty().SetLineWidth(1.5)
            self.cursor.GetProperty().LightingOff()
            self.renderer.AddActor(self.cursor)
        self.cursor.GetMapper().SetInputData(data)

    def set_decorations_visible(self, cursor: bool, orientation_cube: bool) -> None:
        """Show or hide the crosshair's slice outlines and the orientation cube."""
        self.cursor_visible = bool(cursor)
        if self.cursor is not None:
            self.cursor.SetVisibility(self.cursor_visible)
        self.marker.SetDraw(bool(orientation_cube))

    def cursor_points(self) -> np.ndarray:
        """The cursor loops' points (12, 3), world mm."""
        data = self.cursor.GetMapper().GetInput()
        return vtk_to_numpy(data.GetPoints().GetData()).astype(np.float64)

    # -- camera and pictures ----------------------------------------------------------------
    def reset_camera(self, side: str = "anterior", zoom: float = 1.0) -> None:
        """Look at everything from ``side`` (see :data:`CAMERA_SIDES`), then magnify by
        ``zoom`` (> 1 fills the view with the middle of the scene)."""
        offset, up = CAMERA_SIDES[side]
        camera = self.renderer.GetActiveCamera()
        camera.SetFocalPoint(0.0, 0.0, 0.0)
        camera.SetPosition(*offset)
        camera.SetViewUp(*up)
        self.renderer.ResetCamera()
        camera.Zoom(float(zoom))

    def display_point(self, world_xyz) -> tuple[float, float]:
        """Pixel (x from the left, y from the top) where world point ``world_xyz`` is drawn."""
        self.renderer.SetWorldPoint(*[float(v) for v in world_xyz], 1.0)
        self.renderer.WorldToDisplay()
        x, y, _ = self.renderer.GetDisplayPoint()
        height = self.render_window.GetSize()[1]
        return x, height - 1 - y

    def snapshot(self) -> np.ndarray:
        """The rendered picture (height, width, 3) uint8, top row first."""
        grab = vtkWindowToImageFilter()
        grab.SetInput(self.render_window)
        grab.SetInputBufferTypeToRGB()
        grab.ReadFrontBufferOff()
        grab.ShouldRerenderOff()
        grab.Update()
        output = grab.GetOutput()
        width, height, _ = output.GetDimensions()
        pixels = vtk_to_numpy(output.GetPointData().GetScalars()).reshape(height, width, -1)
        return np.ascontiguousarray(pixels[::-1, :, :3])

    def _add_orientation_cube(self) -> None:
        cube = vtkAnnotatedCubeActor()
        for face, text in (("XPlus", "L"), ("XMinus", "R"), ("YPlus", "P"), ("YMinus", "A"),
                           ("ZPlus", "S"), ("ZMinus", "I")):
            getattr(cube, f"Set{face}FaceText")(text)
        cube.GetCubeProperty().SetColor(0.85, 0.85, 0.85)
        cube.GetTextEdgesProperty().SetColor(0.2, 0.2, 0.2)
        for name in ("XPlus", "XMinus", "YPlus", "YMinus", "ZPlus", "ZMinus"):
            getattr(cube, f"Get{name}FaceProperty")().SetColor(0.1, 0.1, 0.1)
        self.marker = vtkRenderer()
        self.marker.SetViewport(0.0, 0.0, 0.16, 0.16)
        self.marker.SetLayer(1)
        self.marker.InteractiveOff()
        self.marker.AddActor(cube)
        self.render_window.AddRenderer(self.marker)
        self.renderer.AddObserver("StartEvent", self._sync_marker)

    def _sync_marker(self, *_args) -> None:
        camera = self.renderer.GetActiveCamera()
        marker = self.marker.GetActiveCamera()
        direction = np.asarray(camera.GetDirectionOfProjection())
        marker.SetFocalPoint(0.0, 0.0, 0.0)
        marker.SetPosition(*(-3.2 * direction))
        marker.SetViewUp(*camera.GetViewUp())
        self.marker.ResetCameraClippingRange()
