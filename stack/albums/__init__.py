"""Photo albums (`io.cozy.photos.albums`, Cozy's shape): the album is a document with a name;
its photos are the files whose `referenced_by` names it. `Albums` holds the rules."""

from roost.albums.service import MAX_FILES_PER_CHANGE, Album, AlbumPhotos, Albums, album_name
from roost.file_queries import ALBUMS_DOCTYPE

__all__ = ["ALBUMS_DOCTYPE", "MAX_FILES_PER_CHANGE", "Album", "AlbumPhotos", "Albums", "album_name"]
