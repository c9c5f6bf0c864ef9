pub struct FileStore;
