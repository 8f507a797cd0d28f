# The libFuzzer targets (tests/fuzz/<target>.cc) and what each links.
set(CARELOG_FUZZ_TARGETS merkle_verifier_fuzz signed_note_fuzz jwt_fuzz record_fuzz policy_fuzz
    command_validation_fuzz)
set(CARELOG_FUZZ_LIBS_merkle_verifier_fuzz carelog::crypto absl::strings absl::span)
set(CARELOG_FUZZ_LIBS_signed_note_fuzz carelog::crypto absl::strings)
set(CARELOG_FUZZ_LIBS_jwt_fuzz carelog::crypto absl::time)
set(CARELOG_FUZZ_LIBS_record_fuzz carelog::storage carelog::crypto)
set(CARELOG_FUZZ_LIBS_policy_fuzz carelog::policies)
set(CARELOG_FUZZ_LIBS_command_validation_fuzz carelog::services)
