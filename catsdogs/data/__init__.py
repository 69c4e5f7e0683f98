"""Stage 1, the data: find or download PetImages, validate every file, the split manifest and the folds, decoding and resizing, ``tf.data``.

Every public name of the modules below is importable from here; modules load on first use
(``lazy_loader``), so importing one module does not import its neighbours (or TensorFlow).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["download", "images", "prepare", "scan", "split"],
    submod_attrs={
        "download": [
            "PETIMAGES_URL",
            "FETCH_RECORD_NAME",
            "download_file",
            "extract_petimages",
            "fetch_petimages",
            "fetch_record",
        ],
        "images": ["load_image", "resize_image", "image_dataset", "load_images", "read_image_file"],
        "prepare": ["prepare_data", "split_dataset"],
        "scan": [
            "CLASS_FOLDERS",
            "DataError",
            "ImageRecord",
            "ScanReport",
            "find_data_dir",
            "check_layout",
            "list_class_files",
            "inspect_image",
            "convert_to_rgb_jpeg",
            "scan_dataset",
        ],
        "split": [
            "SPLITS",
            "split_manifest",
            "stratified_subset",
            "split_table",
            "assign_folds",
            "fold_manifest",
            "check_fold_fraction",
        ],
    },
)
