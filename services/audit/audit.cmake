# The audit projection, AuditService and audit exports (issue 6); part of
# carelog_services, included from services/CMakeLists.txt.
target_sources(carelog_services PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/audit_format.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit_service.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit_view.cc
  ${CMAKE_CURRENT_LIST_DIR}/audited_call.cc
)
