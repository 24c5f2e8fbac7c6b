# vitflow pin and clock constraints for the ZCU102 (xczu9eg-ffvb1156-2-e), from UG1182.
#
# Clock: the accelerator and its AXI ports run on the PS clock pl_clk0, whose frequency
# build_bitstream.tcl sets from the build's clock (200 MHz by default). Vivado derives that clock's
# constraint from the PS8 configuration, so no create_clock is needed for it. The board's own
# 125 MHz oscillator (CLK_125_P/N on G21/F21, LVDS_25) is not used by the design.
#
# Pins: one output, status_led, lit by the accelerator's done interrupt, on user LED GPIO_LED_0.
set_property -dict {PACKAGE_PIN AG14 IOSTANDARD LVCMOS33 SLEW SLOW DRIVE 8} [get_ports status_led]
set_false_path -to [get_ports status_led]  ;# an LED: no timing to meet (set_output_delay would need a -clock)
