"""Stage 1, the data: find or download PetImages, validate every file, the split manifest and the folds, decoding and resizing, ``tf.data``.

Every public name of the modules below is importable from here; modules load on first use
(``lazy_loader``), so importing one module does not import its neighbours (or TensorFlow).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["download", "duplicates", "external", "images", "prepare", "scan", "split"],
    submod_attrs={
        "duplicates": ["MAX_DISTANCE", "phash_bits", "near_duplicates", "duplicate_record"],
        "download": [
            "PETIMAGES_URL",
            "FETCH_RECORD_NAME",
            "download_file",
            "extract_petimages",
            "fetch_petimages",
            "fetch_record",
        ],
        "external": [
            "species_name",
            "ENV_EXTERNAL_DIR",
            "OXFORD_PETS_URL",
            "OXFORD_PETS_MD5",
            "CIFAR10_CLASSES",
            "EXTERNAL_SETS",
            "NON_PET",
            "MissingExternalSet",
            "ExternalImage",
            "ExternalData",
            "ExternalSet",
            "oxford_breed",
            "oxford_label",
            "list_oxford_folders",
            "list_oxford_images",
            "list_cifar_folders",
            "external_set",
            "external_dir",
            "parse_external_args",
            "find_external_set",
            "find_external_sets",
            "file_list_sha256",
            "arrays_sha256",
            "set_provenance",
            "load_cifar10_test",
            "file_md5",
            "extract_oxford_images",
            "fetch_oxford_pets",
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
            "carve_inner",
            "stratified_subset",
            "split_table",
            "assign_folds",
            "fold_manifest",
            "check_fold_fraction",
        ],
    },
)
