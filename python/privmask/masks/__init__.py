"""Privacy masks as data: polygons, styles, mask sets and their JSON form, time-versioned
timelines, scene-locked masks for PTZ cameras, and ONVIF/Frigate/grid interchange.

Nothing here touches pixels; :mod:`privmask.engine` rasterises and applies what is defined here.
"""
