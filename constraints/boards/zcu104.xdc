# vitflow pin and clock constraints for the ZCU104 (xczu7ev-ffvc1156-2-e), from UG1267.
#
# Clock: the accelerator runs on the PS clock pl_clk0 (set by build_bitstream.tcl); Vivado derives its
# constraint from the PS8 configuration. The board's 125 MHz oscillator (F23/E23) is not used.
#
# Pins: status_led, lit by the accelerator's done interrupt, on user LED GPIO_LED_0_LS.
set_property -dict {PACKAGE_PIN D5 IOSTANDARD LVCMOS33 SLEW SLOW DRIVE 8} [get_ports status_led]
set_false_path -to [get_ports status_led]  ;# an LED: no timing to meet (set_output_delay would need a -clock)
